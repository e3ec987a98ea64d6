"""The knowledge base: sources, text extraction, chunking, embeddings and hybrid retrieval (issue 12)."""
