"""The YAML flow language: model, loader, and the per-call interpreter."""
