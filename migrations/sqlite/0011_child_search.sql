-- The admin's child search by name prefix, through an index: each child's name normalised
-- (lower case, single spaces) first name first and last name first. Filled by the service
-- (`org::db::fill_search_keys`), which lower-cases Danish letters as SQLite's lower() does not.
ALTER TABLE children ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE children ADD COLUMN surname_key TEXT NOT NULL DEFAULT '';
CREATE INDEX children_name_key ON children(name_key);
CREATE INDEX children_surname_key ON children(surname_key);
