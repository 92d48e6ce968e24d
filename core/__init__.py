"""Domain core: settings, models, job ids and the error taxonomy. Imports nothing of ours."""
