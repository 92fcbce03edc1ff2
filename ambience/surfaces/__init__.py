"""Thin translators into the controller: HTTP and the phone page, MQTT, Home Assistant."""
