"""Demo data, kept out of the production package's core: a synthetic shop (`segmint generate`) and simulated
campaign responses (`segmint simulate-responses`). The personas and the catalogue are data files here."""
