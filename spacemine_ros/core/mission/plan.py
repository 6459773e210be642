"""Shift plans: the steps a supervisor runs, validated when loaded.

A plan is YAML (config/plans/*.yaml) with a `plan:` mapping: a name, whether the shift may
go on by itself after a lost node comes back (`auto_resume`), and its steps. Each step
has a `type`, a `timeout` (s, on the rig's clock), `retries` (each after `retry_delay`
s) and `on_failure` (what
happens once the retries are spent: `abort` the shift, `skip` to the next step, or
`hold`: make safe and wait for the operator). pydantic checks the shape and the ranges;
check_against_rig() checks what only the rig file knows (the controllers a step names,
whether a drill can be positioned). Every error names the step and the field. No rclpy.
"""

import math
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spacemine_ros.core.config import ConfigError, load_yaml

Seconds = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class StepBase(BaseModel):
    """What every step has: how long it may take and what a failure does."""

    model_config = ConfigDict(extra='forbid', frozen=True)
    label: str = ''  # shown in progress and the event log ('' -> the type)
    timeout: Seconds = 1800.0
    retries: Annotated[int, Field(ge=0, le=10)] = 0
    # s (rig clock) before a retry: what refused or failed the step (a furnace too hot
    # to charge, a tool still settling) has time to change.
    retry_delay: Annotated[float, Field(ge=0.0, le=3600.0, allow_inf_nan=False)] = 5.0
    on_failure: Literal['abort', 'skip', 'hold'] = 'abort'

    @property
    def title(self):
        """Return the label, or the step type when there is none."""
        return self.label or self.type


class DeployAnchors(StepBase):
    """Deploy the anchors; done when anchored with a safe capacity."""

    type: Literal['deploy_anchors']
    timeout: Seconds = 600.0


class ReleaseAnchors(StepBase):
    """Release the anchors; done when stowed."""

    type: Literal['release_anchors']
    timeout: Seconds = 600.0


class Drill(StepBase):
    """Drill every drill (or those named) to a depth."""

    type: Literal['drill']
    depth: Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)]  # m
    drills: tuple[str, ...] = ()  # controllers; empty: every drill of the rig
    # Hole position (x, y) in base_link [m]: only for a rig that can move its drill.
    position: Optional[tuple[float, float]] = None


class Scrape(StepBase):
    """Run every scraper's (or those named) passes, or enough of them to cover an area."""

    type: Literal['scrape']
    passes: Optional[Annotated[int, Field(ge=1, le=50)]] = None
    area: Optional[Annotated[float, Field(gt=0.0, le=50.0, allow_inf_nan=False)]] = None  # m^2
    pass_length: Optional[Annotated[float, Field(gt=0.0, le=5.0)]] = None  # m
    scrapers: tuple[str, ...] = ()

    def model_post_init(self, context):
        """Take passes or an area, one of them."""
        if (self.passes is None) == (self.area is None):
            raise ValueError('a scrape needs passes or area (m^2), one of them')


class MaterialLine(StepBase):
    """Start the material line; `until: drained` also waits until nothing is in transit."""

    type: Literal['material_line']
    until: Literal['running', 'drained'] = 'running'
    drained_below: Annotated[float, Field(gt=0.0, le=1.0)] = 0.005  # kg left in transit


class Smelt(StepBase):
    """Run one smelter batch."""

    type: Literal['smelt']
    recipe: str = ''  # '' : the smelter's own (by the body's class)
    charge: Optional[Annotated[float, Field(gt=0.0, le=100.0)]] = None  # kg; None: recipe's
    timeout: Seconds = 7200.0


class Wait(StepBase):
    """Wait for a time, for power, or both (each that is given must hold)."""

    type: Literal['wait']
    seconds: Optional[Seconds] = None
    power: Optional[Annotated[float, Field(gt=0.0, le=1e6)]] = None  # W available
    battery: Optional[Annotated[float, Field(gt=0.0, le=1.0)]] = None  # state of charge
    timeout: Seconds = 86400.0

    def model_post_init(self, context):
        """Refuse a wait with nothing to wait for."""
        if self.seconds is None and self.power is None and self.battery is None:
            raise ValueError('a wait needs seconds, power or battery')


Step = Annotated[Union[DeployAnchors, ReleaseAnchors, Drill, Scrape, MaterialLine, Smelt,
                       Wait], Field(discriminator='type')]
STEP_TYPES = ('deploy_anchors', 'drill', 'scrape', 'material_line', 'smelt', 'wait',
              'release_anchors')


class Plan(BaseModel):
    """A shift plan."""

    model_config = ConfigDict(extra='forbid', frozen=True)
    name: Annotated[str, Field(min_length=1)]
    description: str = ''
    body: str = ''  # the body it was written for ('' : any)
    auto_resume: bool = True  # go on by itself once a lost node is back
    steps: Annotated[list[Step], Field(min_length=1)]


class PlanError(ConfigError):
    """A plan that cannot run; the message names the file, the step and the field."""


def _describe(error, data):
    """Return one line per pydantic error: 'step 3 (drill): depth: <why>'."""
    lines = []
    steps = data.get('steps') if isinstance(data, dict) else None
    for item in error.errors():
        loc = list(item['loc'])
        where = ''
        if len(loc) >= 2 and loc[0] == 'steps' and isinstance(loc[1], int):
            index = loc[1]
            kind = ''
            entry = steps[index] if isinstance(steps, list) and index < len(steps) else None
            if isinstance(entry, dict):
                kind = entry.get('type', '')
            where = f'step {index + 1}' + (f' ({kind})' if kind else '')
            loc = loc[2:]
            if loc and loc[0] == kind:  # pydantic repeats the union member's tag
                loc = loc[1:]
        field = '.'.join(str(part) for part in loc)
        message = item['msg'].removeprefix('Value error, ')
        if item['type'] == 'union_tag_invalid':
            message = f'unknown step type; one of {", ".join(STEP_TYPES)}'
            field = 'type'
        elif item['type'] == 'union_tag_not_found':
            message = f'missing; one of {", ".join(STEP_TYPES)}'
            field = 'type'
        elif item['type'] == 'extra_forbidden':
            message = 'unknown field'
        lines.append(': '.join(part for part in (where, field, message) if part))
    return lines


def plan_from(data, where='plan'):
    """Return the Plan a mapping describes; PlanError naming each bad step and field."""
    if not isinstance(data, dict):
        raise PlanError(f'{where}: a plan is a mapping with name and steps')
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        raise PlanError(f'{where}: ' + '; '.join(_describe(error, data))) from None


def load_plan(path):
    """Load a plan file (a top-level `plan:` mapping); PlanError if it is not valid."""
    data = load_yaml(path)
    if not isinstance(data, dict) or 'plan' not in data:
        raise PlanError(f'{path}: no top-level "plan:" mapping')
    return plan_from(data['plan'], str(path))


def check_against_rig(plan, rig, body=''):
    """Raise PlanError if a step names what the rig does not have or cannot do."""
    if plan.body and body and plan.body != body:
        raise PlanError(f'plan {plan.name} is for {plan.body}, the rig is on {body}')
    drills = {s.controller for s in rig.by_kind('drill')}
    scrapers = {s.controller for s in rig.by_kind('scraper')}
    needs = {'deploy_anchors': 'anchors', 'release_anchors': 'anchors', 'drill': 'drill',
             'scrape': 'scraper', 'material_line': 'material_line', 'smelt': 'furnace'}
    for number, step in enumerate(plan.steps, 1):
        where = f'plan {plan.name}: step {number} ({step.type})'
        kind = needs.get(step.type)
        if kind and not rig.by_kind(kind):
            raise PlanError(f'{where}: the rig has no {kind} subsystem')
        if step.type == 'drill':
            unknown = set(step.drills) - drills
            if unknown:
                raise PlanError(f'{where}: drills: {", ".join(sorted(unknown))} not on the '
                                f'rig (its drills: {", ".join(sorted(drills))})')
            if step.position is not None:
                movable = [s.name for s in rig.by_kind('drill') if s.role_joints('traverse')]
                if not movable:
                    raise PlanError(f'{where}: position: this rig cannot move its drill '
                                    '(no traverse joint); leave position out')
                if not all(math.isfinite(v) for v in step.position):
                    raise PlanError(f'{where}: position: must be finite')
        if step.type == 'scrape':
            unknown = set(step.scrapers) - scrapers
            if unknown:
                raise PlanError(f'{where}: scrapers: {", ".join(sorted(unknown))} not on the '
                                'rig')


def varied(plan, depth=None, passes=None, smelt=True):
    """Return the plan with its drill depths and scraper passes changed, or its smelting cut.

    depth [m]: every drill step's; passes: every scrape step's (0 drops scraping); smelt
    False drops the smelter batches and the waits for their power. PlanError if the
    result is not a valid plan.
    """
    data = plan.model_dump(mode='json', exclude_defaults=True)
    steps = []
    for index, step in enumerate(data['steps']):
        kind = step['type']
        if kind == 'drill' and depth is not None:
            step['depth'] = float(depth)
        if kind == 'scrape' and passes is not None:
            if passes == 0:
                continue
            step['passes'] = int(passes)
            step.pop('area', None)
        if not smelt and (kind == 'smelt' or (
                kind == 'wait' and index + 1 < len(data['steps'])
                and data['steps'][index + 1]['type'] == 'smelt')):
            continue
        steps.append(step)
    data['steps'] = steps
    return plan_from(data, plan.name)
