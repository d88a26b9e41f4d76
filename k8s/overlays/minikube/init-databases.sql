-- Run once, by the postgres image, when the data volume is new: one database
-- per service (DESIGN.md, "Data ownership"). Each service's migration Job then
-- creates its tables.
CREATE DATABASE cotoami_auth;
CREATE DATABASE cotoami_cotos;
CREATE DATABASE cotoami_cotonomas;
CREATE DATABASE cotoami_mailer;
