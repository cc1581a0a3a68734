-- Retention starts from events: the day a child left the municipality's institutions
-- (`left_on`), and nothing of a child under a legal hold is deleted until it is lifted.
ALTER TABLE children ADD COLUMN left_on TEXT;
CREATE TABLE legal_holds (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    reason TEXT NOT NULL,
    placed_by INTEGER NOT NULL REFERENCES users(id),
    placed_at TEXT NOT NULL,
    lifted_by INTEGER REFERENCES users(id),
    lifted_at TEXT
);
CREATE INDEX legal_holds_child ON legal_holds(child_id);
