"""The document cache (Grave et al., ICLR 2017): the document's own words, found by context."""
