"""Deployment plans and the actors that carry out their steps.

A plan is a list of steps, each a list of actions on apps
(StartApplication, ScaleApplication, RestartApplication, StopApplication).
The scheduler calls ``Deployment.advance`` on every tick; each action looks
at the tasks as they are now and does the next thing Marathon would, so
tasks that die or turn unhealthy on their own are handled the same way.
"""

import math
import uuid


def kill_order(tasks, kill_selection):
    """Who goes first: tasks not ready yet, then by ``killSelection``."""
    youngest_first = kill_selection != "OLDEST_FIRST"
    return sorted(
        tasks,
        key=lambda task: (
            task.ready,
            -task.staged_monotonic if youngest_first else task.staged_monotonic,
        ),
    )


class Action:
    name = ""

    def __init__(self, app_id):
        self.app_id = app_id

    def as_json(self):
        return {"action": self.name, "app": self.app_id}

    def advance(self, scheduler):
        """Do what is due now; True once the action is complete."""
        raise NotImplementedError


class StartApplication(Action):
    """Registers the app with zero instances: nothing to wait for."""

    name = "StartApplication"

    def advance(self, scheduler):
        return True


class ScaleApplication(Action):
    """Start or kill instances until the app runs ``instances`` ready ones."""

    name = "ScaleApplication"

    def advance(self, scheduler):
        app = scheduler.apps.get(self.app_id)
        if app is None:
            return True
        wanted = app.definition["instances"]
        alive = scheduler.alive_tasks(self.app_id)
        for task in kill_order(alive, app.definition["killSelection"])[
            : max(0, len(alive) - wanted)
        ]:
            scheduler.kill(task)
        scheduler.launch_many(app, wanted - len(alive))
        alive = scheduler.alive_tasks(self.app_id)
        ready = sum(1 for task in alive if task.ready)
        return len(alive) == wanted and ready >= wanted and not scheduler.killing_tasks(self.app_id)


class RestartApplication(Action):
    """Marathon's rolling replacement, bounded by the upgradeStrategy.

    minHealthy = ceil(instances * minimumHealthCapacity) and
    maxCapacity = floor(instances * (1 + maximumOverCapacity)). Old
    instances above minHealthy are killed at once, new ones start up to
    maxCapacity, and each new instance that turns ready lets one old one go.
    """

    name = "RestartApplication"

    def __init__(self, app_id):
        super().__init__(app_id)
        self.old_at_start = None
        self.min_healthy = 0
        self.max_capacity = 0

    def _plan(self, app, old_count):
        instances = app.definition["instances"]
        strategy = app.definition["upgradeStrategy"]
        self.old_at_start = old_count
        self.min_healthy = math.ceil(instances * strategy["minimumHealthCapacity"])
        self.max_capacity = math.floor(instances * (1 + strategy["maximumOverCapacity"]))
        if self.min_healthy == self.max_capacity and self.max_capacity <= old_count:
            # Neither killing nor starting would be allowed: start one extra.
            self.max_capacity += 1

    def advance(self, scheduler):
        app = scheduler.apps.get(self.app_id)
        if app is None:
            return True
        alive = scheduler.alive_tasks(self.app_id)
        new = [task for task in alive if task.config_version == app.config_version]
        old = [task for task in alive if task.config_version != app.config_version]
        if self.old_at_start is None:
            self._plan(app, len(old))
        ready_new = sum(1 for task in new if task.ready)
        keep_old = max(0, min(self.old_at_start, self.min_healthy) - ready_new)
        doomed = kill_order(old, app.definition["killSelection"])[: max(0, len(old) - keep_old)]
        for task in doomed:
            scheduler.kill(task)
        old_left = len(old) - len(doomed)
        # Old instances hold capacity until their kill completed, as in Marathon.
        old_dying = [
            task
            for task in scheduler.killing_tasks(self.app_id)
            if task.config_version != app.config_version
        ]
        instances = app.definition["instances"]
        room = max(0, self.max_capacity - old_left - len(old_dying) - len(new))
        scheduler.launch_many(app, min(instances - len(new), room))
        return (
            old_left == 0
            and len(new) == instances
            and ready_new >= instances
            and not scheduler.killing_tasks(self.app_id)
        )


class StopApplication(Action):
    """Kill every task of a deleted app; done once all are gone."""

    name = "StopApplication"

    def advance(self, scheduler):
        for task in scheduler.alive_tasks(self.app_id):
            scheduler.kill(task)
        return not scheduler.tasks_of(self.app_id)


class Deployment:
    """One plan: ``original`` and ``target`` hold each affected app's
    stored record before and after (None: absent), for reverting."""

    def __init__(self, version, steps, original, target):
        self.id = str(uuid.uuid4())
        self.version = version
        self.steps = steps
        self.original = original
        self.target = target
        self.current_step = 0

    @property
    def affected_apps(self):
        return sorted({action.app_id for step in self.steps for action in step})

    @property
    def finished(self):
        return self.current_step >= len(self.steps)

    def advance(self, scheduler):
        """Run the current step; move on when all its actions completed."""
        while not self.finished:
            done = [action.advance(scheduler) for action in self.steps[self.current_step]]
            if not all(done):
                return
            self.current_step += 1

    @property
    def current_actions(self):
        return self.steps[self.current_step] if not self.finished else []

    def as_json(self):
        current = self.current_actions
        return {
            "id": self.id,
            "version": self.version,
            "affectedApps": self.affected_apps,
            "affectedPods": [],
            "steps": [{"actions": [action.as_json() for action in step]} for step in self.steps],
            "currentActions": [
                {**action.as_json(), "readinessCheckResults": []} for action in current
            ],
            "currentStep": min(self.current_step + 1, len(self.steps)),
            "totalSteps": len(self.steps),
        }


def plan_steps(app_id, before, after):
    """The steps Marathon plans for one app going from ``before`` to ``after``
    (stored records or None)."""
    if before is None and after is None:
        return []
    if after is None:
        return [[StopApplication(app_id)]]
    if before is None:
        return [[StartApplication(app_id)], [ScaleApplication(app_id)]]
    if before.config_version != after.config_version:
        return [[RestartApplication(app_id)]]
    if before.definition["instances"] != after.definition["instances"]:
        return [[ScaleApplication(app_id)]]
    return []
