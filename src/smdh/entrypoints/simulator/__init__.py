"""``smdh simulate``: realistic devices publishing to the hub with their own credentials.

- ``models``: pure device models (machines, energy meters, air quality, job scans), seeded.
- ``publisher``: ``Simulation``, which runs the models against the clock and publishes over
  MQTT (one connection per device) or HTTP.
- ``command``: the CLI subcommand.
"""

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
