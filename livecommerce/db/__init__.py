"""SQL: models, engine, migrations."""

from livecommerce.db.engine import Database
from livecommerce.db.migrate import migrate

__all__ = ["Database", "migrate"]
