"""The service layer: plain functions taking ids and primitives, raising domain errors, owning the commit."""
