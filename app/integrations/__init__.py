"""Thin clients of the outside world (email, SMS, calendars), each swappable by configuration.

Integrations never import services: services call them with plain values.
"""
