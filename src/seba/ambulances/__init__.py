"""Ambulances: the fleet, requests for an ambulance, dispatch and the trip to the hospital."""
