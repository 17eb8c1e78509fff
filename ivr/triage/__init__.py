"""Triage: the classifier, its caller cues, the reconcile rules and entity extraction."""
