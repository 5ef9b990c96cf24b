"""Notification channels of the caller's tenant (admin), the caller's own notification
preferences (any member) and the delivery log (admin: failed deliveries are visible here).

Webhook secrets are shown once, in the ``PUT`` reply that generated them; ``GET`` never
returns a secret. Deliveries name their alert by its API id (``{rule}:{device}:{episode}``).
"""

from __future__ import annotations

from datetime import datetime

from smdh.adapters.serialization import converter
from smdh.application import channel_commands as cc
from smdh.application.authorization import authorize_tenant
from smdh.application.delivery import Delivery, DeliveryLog, DeliveryStatus
from smdh.application.handlers.channels import ChannelsResult
from smdh.domain.alerts.channels import (
    NotificationChannels,
    UserNotificationPreferences,
    channels_aggregate_id,
)
from smdh.domain.shared.ids import UserId
from smdh.domain.tenancy.roles import Role
from smdh.entrypoints.http import alert_models as am
from smdh.entrypoints.http.core import (
    ADMIN,
    CURSOR_PARAM,
    LIMIT_PARAM,
    VIEWER,
    ApiProblem,
    ApiResponse,
    QueryParam,
    RequestContext,
    Route,
    etag,
)
from smdh.entrypoints.http.pagination import decode_cursor, encode_cursor, limit_of
from smdh.entrypoints.http.routes.alerts import public_id


def _channels(ctx: RequestContext) -> NotificationChannels:
    tenant_id = ctx.tenant()
    found = NotificationChannels.rehydrate(
        ctx.services.events.load(channels_aggregate_id(tenant_id))
    )
    return found or NotificationChannels.empty(tenant_id)


def _preferences(p: UserNotificationPreferences) -> am.PreferencesView:
    return am.PreferencesView(
        user_id=p.user_id, email=p.email, phone=p.phone, muted_channels=p.muted_channels,
        min_severity=p.min_severity,
    )  # fmt: skip


def channels_view(channels: NotificationChannels, secrets: dict[str, str]) -> am.ChannelsView:
    s = channels.settings
    return am.ChannelsView(
        email_recipients=s.email_recipients,
        sms_recipients=s.sms_recipients,
        webhooks=tuple(
            am.WebhookView(url=w.url, min_severity=w.min_severity, secret=secrets.get(w.url))
            for w in s.webhooks
        ),
        slack_webhook_url=s.slack_webhook_url,
        in_app=s.in_app,
        default_channels=s.default_channels,
        min_severity=s.min_severity,
        preferences=tuple(_preferences(p) for _, p in sorted(channels.preferences.items())),
        version=channels.version,
    )


def _channels_response(ctx: RequestContext, secrets: dict[str, str]) -> ApiResponse:
    authorize_tenant(ctx.require_principal(), ctx.tenant(), Role.ADMIN)
    channels = _channels(ctx)
    headers = {**etag(channels.version), "Cache-Control": "no-store"}
    return ApiResponse(200, converter.unstructure(channels_view(channels, secrets)), headers)


def get_channels(ctx: RequestContext) -> ApiResponse:
    return _channels_response(ctx, {})


def put_channels(ctx: RequestContext) -> ApiResponse:
    body: am.ChannelsBody = ctx.body
    result: ChannelsResult = ctx.run(
        lambda p: cc.ConfigureNotificationChannels(
            principal=p,
            tenant_id=ctx.tenant(),
            expected_version=ctx.if_match,
            email_recipients=body.email_recipients,
            sms_recipients=body.sms_recipients,
            webhooks=tuple(
                cc.WebhookSpec(w.url, w.secret, w.min_severity.value) for w in body.webhooks
            ),
            slack_webhook_url=body.slack_webhook_url,
            in_app=body.in_app,
            default_channels=tuple(c.value for c in body.default_channels),
            min_severity=body.min_severity.value,
        )
    )
    return _channels_response(ctx, result.new_secrets)


def _my_preferences(ctx: RequestContext) -> ApiResponse:
    principal = ctx.require_principal()
    authorize_tenant(principal, ctx.tenant(), Role.VIEWER)
    channels = _channels(ctx)
    user = UserId(principal.subject)
    found = channels.preferences.get(user)
    view = (
        _preferences(found)
        if found is not None
        else am.PreferencesView(
            user_id=user,
            email=None,
            phone=None,
            muted_channels=(),
            min_severity="info",  # type: ignore[arg-type]
        )
    )
    return ApiResponse(200, converter.unstructure(view), etag(channels.version))


def get_my_preferences(ctx: RequestContext) -> ApiResponse:
    return _my_preferences(ctx)


def put_my_preferences(ctx: RequestContext) -> ApiResponse:
    body: am.PreferencesBody = ctx.body
    ctx.run(
        lambda p: cc.SetNotificationPreferences(
            principal=p,
            tenant_id=ctx.tenant(),
            user_id=p.subject,
            email=body.email,
            phone=body.phone,
            muted_channels=tuple(c.value for c in body.muted_channels),
            min_severity=body.min_severity.value,
        )
    )
    return _my_preferences(ctx)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def delivery_view(d: Delivery) -> am.DeliveryView:
    return am.DeliveryView(
        idempotency_key=d.idempotency_key,
        alert_id=public_id(d.alert_id, d.tenant_id),
        event_type=d.event_type,
        channel=d.channel,
        recipient=d.recipient,
        status=d.status.value,
        attempts=d.attempts,
        last_error=d.last_error,
        next_attempt_at=d.next_attempt_at.isoformat(),
        created_at=d.created_at.isoformat(),
        sent_at=_iso(d.sent_at),
    )


def list_deliveries(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    authorize_tenant(ctx.require_principal(), tenant_id, Role.ADMIN)
    log: DeliveryLog | None = ctx.services.deliveries
    if log is None:
        raise ApiProblem(404, "route-not-found", "notifications are not running")
    status = ctx.query.get("status")
    after = decode_cursor(ctx.query.get("cursor"), str)
    limit = limit_of(ctx.query)
    rows = log.list(
        tenant_id, status=None if status is None else DeliveryStatus(status),
        after_key=None if after is None else str(after), limit=limit + 1,
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    body = {
        "items": [converter.unstructure(delivery_view(d)) for d in rows],
        "next_cursor": encode_cursor(rows[-1].idempotency_key) if more and rows else None,
    }
    return ApiResponse(200, body)


ROUTES = (
    Route("GET", "/v1/notification-channels", get_channels, "getNotificationChannels",
          "Where the tenant's alert notifications go (secrets are never shown)",
          "notifications", ADMIN, response_model=am.ChannelsView, etag=True),
    Route("PUT", "/v1/notification-channels", put_channels, "setNotificationChannels",
          "Replace the notification channels; generated webhook secrets are shown once",
          "notifications", ADMIN, request_model=am.ChannelsBody,
          response_model=am.ChannelsView, if_match=True, etag=True),
    Route("GET", "/v1/me/notification-preferences", get_my_preferences,
          "getMyNotificationPreferences", "The caller's own notification preferences",
          "notifications", VIEWER, response_model=am.PreferencesView, etag=True),
    Route("PUT", "/v1/me/notification-preferences", put_my_preferences,
          "setMyNotificationPreferences",
          "Set the caller's own address, phone, muted channels and lowest severity",
          "notifications", VIEWER, request_model=am.PreferencesBody,
          response_model=am.PreferencesView, etag=True),
    Route("GET", "/v1/deliveries", list_deliveries, "listDeliveries",
          "Notification deliveries (e.g. ?status=failed) with attempts and last error",
          "notifications", ADMIN, response_model=am.DeliveryView, paginated=True,
          query=(LIMIT_PARAM, CURSOR_PARAM,
                 QueryParam("status", "enum", "only deliveries in this status",
                            choices=tuple(s.value for s in DeliveryStatus)))),
)  # fmt: skip
