"""The helpline: its numbers (directory, footer, /contact), answers to common questions with
full-text search in Bengali, English and Banglish (text.py folds, search.py asks the database's
index), and the callback queue (callbacks.py) that replaces a busy tone."""
