-- The task types whose work an agent reviews (JSON array of patterns).
ALTER TABLE agents ADD COLUMN review_capabilities TEXT NOT NULL DEFAULT '[]';
