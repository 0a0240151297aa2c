"""Change engines (pure): copies (canonical URL, MinHash/LSH keys), stories (online clustering)
and versions (material gate, sentence/word diff). No SQL, no HTTP: a store and the pipeline use
them through their small interfaces (see docs/changes.md)."""
