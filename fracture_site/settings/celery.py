"""Celery: Redis broker, JSON only, late acks with time limits (STYLE.md, tasks)."""

from __future__ import annotations

from fracture_site.settings.envtools import env, env_int

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = REDIS_URL
# Separate deployments (or test runs) sharing one Redis each use their own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("FRACTURE_CELERY_QUEUE", default="celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = env_int("FRACTURE_TASK_SOFT_TIME_LIMIT", default=120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("FRACTURE_TASK_TIME_LIMIT", default=150, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message not acknowledged within this time is delivered again (worker killed mid-task).
    "visibility_timeout": env_int("FRACTURE_VISIBILITY_TIMEOUT", default=600, minimum=1),
    # kombu scans for such messages every interval x throttle seconds (default 10 x 10); scan
    # every interval instead so a killed worker's task comes back soon after the timeout.
    "unacked_restore_interval": env_int("FRACTURE_UNACKED_RESTORE_INTERVAL_S", default=10, minimum=1),
    "unacked_restore_throttle": 1,
    # Fail fast instead of hanging a web request when Redis is down or hung: a publish makes at
    # most a few attempts of this many seconds each. It must exceed kombu's 1 s BRPOP wait.
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Prediction recovery (diagnosis.tasks.sweep_stale_predictions, run by celery beat).
FRACTURE_PREDICTION_MAX_ATTEMPTS = env_int("FRACTURE_PREDICTION_MAX_ATTEMPTS", default=3, minimum=1)
FRACTURE_SWEEP_INTERVAL_S = env_int("FRACTURE_SWEEP_INTERVAL_S", default=60, minimum=1)
# A run still ``running`` this long after the hard time limit has no live worker: it is taken over.
FRACTURE_STALE_RUN_MARGIN_S = env_int("FRACTURE_STALE_RUN_MARGIN_S", default=30, minimum=0)
# A queued prediction whose message never reached the broker is sent again after this long.
FRACTURE_SWEEP_UNSENT_AFTER_S = env_int("FRACTURE_SWEEP_UNSENT_AFTER_S", default=30, minimum=1)
# A message handed over this long ago without being claimed is presumed lost and sent again.
FRACTURE_REDISPATCH_AFTER_S = env_int("FRACTURE_REDISPATCH_AFTER_S", default=900, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-predictions": {
        "task": "diagnosis.tasks.sweep_stale_predictions",
        "schedule": float(FRACTURE_SWEEP_INTERVAL_S),
    },
    "fail-stale-shadow-runs": {
        "task": "shadow.tasks.fail_stale_shadow_runs",
        "schedule": float(FRACTURE_SWEEP_INTERVAL_S),
    },
}

# Shadow runs (shadow.tasks): their own queue and worker, so a long run never delays predictions.
FRACTURE_SHADOW_QUEUE = env.str("FRACTURE_SHADOW_QUEUE", default="shadow")
FRACTURE_SHADOW_SOFT_TIME_LIMIT = env_int("FRACTURE_SHADOW_SOFT_TIME_LIMIT", default=1800, minimum=1)
FRACTURE_SHADOW_TIME_LIMIT = env_int("FRACTURE_SHADOW_TIME_LIMIT", default=1860, minimum=1)
