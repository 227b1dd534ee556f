"""Imports every domain's tables, so `Base.metadata` knows them all (for Alembic and tests)."""

from tocsin.alerts import models as alert_models
from tocsin.audit import models as audit_models
from tocsin.auth import models as auth_models
from tocsin.catalogue import models as catalogue_models
from tocsin.comms import models as comms_models
from tocsin.db import Base
from tocsin.incidents import models as incident_models
from tocsin.oncall import models as oncall_models
from tocsin.paging import models as paging_models
from tocsin.postmortems import models as postmortem_models
from tocsin.statuspage import models as statuspage_models
from tocsin.timeline import models as timeline_models

metadata = Base.metadata

__all__ = [
    "alert_models",
    "audit_models",
    "auth_models",
    "catalogue_models",
    "comms_models",
    "incident_models",
    "metadata",
    "oncall_models",
    "paging_models",
    "postmortem_models",
    "statuspage_models",
    "timeline_models",
]
