"""Shared service kit: settings, logging, request context, metrics, health, errors."""
