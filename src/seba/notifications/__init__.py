"""Outgoing messages: SMS providers behind one interface, and the delivery worker."""
