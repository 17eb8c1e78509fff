"""Speech: mu-law audio, the recognition engines (PocketSphinx, Vosk) and the Vosk model download."""
