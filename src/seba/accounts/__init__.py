"""Staff accounts, login tokens and login throttling."""
