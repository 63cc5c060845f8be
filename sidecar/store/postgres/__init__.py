"""The records store on a PostgreSQL server (``serve --database-url postgres://…``); see :mod:`.store`."""
