"""Refuse to run an MLflow older than its database schema (`helm rollback` across a migration).

`helm rollback` after an upgrade that migrated the schema starts the older MLflow image on the newer
schema: Alembic only migrates forward, and the old server would read and write tables it does not know.
Each database records its Alembic revision; a revision that this image's MLflow has no migration script
for was written by a newer MLflow. The MLflow server and the migration Job check both databases (tracking
and basic-auth) before doing anything, and stop with the way back: restore the pre-upgrade dump.
"""
