from runs.api.base import api
from runs.api.batches import router as batches_router
from runs.api.packets import router as packets_router
from runs.api.runs import router as runs_router
from runs.api.schedules import router as schedules_router
from runs.api.whoami import router as whoami_router

api.add_router("", runs_router)
api.add_router("", batches_router)
api.add_router("", packets_router)
api.add_router("", schedules_router)
api.add_router("", whoami_router)
