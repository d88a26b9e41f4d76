-- Run once, by the postgres image, when the data volume is new: one database
-- per service, as each service owns its data and no other service reads its
-- tables. Each service's migration Job then creates its tables.
CREATE DATABASE cotoami_auth;
CREATE DATABASE cotoami_cotos;
CREATE DATABASE cotoami_cotonomas;
CREATE DATABASE cotoami_mailer;
CREATE DATABASE cotoami_graph;
CREATE DATABASE cotoami_archive;
