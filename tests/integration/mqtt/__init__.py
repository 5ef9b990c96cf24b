"""Integration tests against real MQTT brokers (embedded amqtt and mosquitto)."""
