"""Hub-and-spoke teleconsultation: doctors, the consult queue and routing, prescriptions."""
