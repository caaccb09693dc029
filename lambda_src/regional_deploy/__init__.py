"""Deployment steps that must run in another region (Lambda asset; entry point ``handler.handler``)."""
