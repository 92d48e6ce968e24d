"""Vendor adapters (httpx, no Temporal, no FastAPI), the catalog data file and the router."""
