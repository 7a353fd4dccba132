"""Clients: what won leads become, with their leads as history."""
