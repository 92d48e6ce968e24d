"""The jobs layer: the Temporal client side of the API (create, read, list, watch, cancel, delete jobs).

It speaks domain errors (``jobs.errors``), never HTTP; ``api/`` maps those to problem JSON in one place
(``api.domain_problems``).
"""
