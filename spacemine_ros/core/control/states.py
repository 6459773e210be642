"""Every controller's states by the names they publish on ~/state.

The supervisor, the power sharing and the tools that follow a shift compare what a
controller publishes with these, never with text of their own: a state renamed in its
controller changes here with it, and one that no longer exists fails at import.
"""

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.core.control.drill import DrillState
from spacemine_ros.core.control.material_handling import LineState
from spacemine_ros.core.control.material_handling import RUNNING_STATES as line_runs
from spacemine_ros.core.control.scraper import ScraperState
from spacemine_ros.core.control.smelter import Phase


def names(*states):
    """Return the published names of controller states (enum members)."""
    return tuple(state.value for state in states)


# Every controller has a FAULT state; the tools that run a job (drill, scraper, smelter)
# also IDLE and DONE (test/unit/test_states.py checks it).
FAULT = DrillState.FAULT.value
IDLE = DrillState.IDLE.value
DONE = DrillState.DONE.value
ANCHORED = AnchoringState.ANCHORED.value
STOWED = AnchoringState.STOWED.value
LINE_STOPPED = LineState.STOPPED.value

# A controller at work, by kind of subsystem (what draws power, what a step watches).
ANCHORS_DEPLOYING = names(AnchoringState.DEPLOYING, AnchoringState.PROOF_TESTING)
ANCHORS_RELEASING = names(AnchoringState.RELEASING)
DRILL_WORKING = names(DrillState.APPROACHING, DrillState.DRILLING, DrillState.BACKING_OFF,
                      DrillState.RETRACTING)
SCRAPER_WORKING = names(ScraperState.POSITIONING, ScraperState.LOWERING,
                        ScraperState.CUTTING, ScraperState.RECOVERING, ScraperState.DUMPING,
                        ScraperState.STOWING)
LINE_RUNNING = names(*line_runs)
FURNACE_WORKING = names(Phase.CHARGING, Phase.HEATING, Phase.SOAKING, Phase.TAPPING,
                        Phase.COOLING)
# States a tool passes through while stopping.
DRILL_SETTLING = names(DrillState.RETRACTING, DrillState.BACKING_OFF)
SCRAPER_SETTLING = names(ScraperState.STOWING, ScraperState.RECOVERING)
FURNACE_SETTLING = names(Phase.TAPPING, Phase.COOLING)
# The furnace's phases once its charge is in (the shift's furnace trace).
FURNACE_HEATED = names(Phase.HEATING, Phase.SOAKING, Phase.TAPPING, Phase.COOLING)
FURNACE_HEATING = Phase.HEATING.value
FURNACE_SOAKING = Phase.SOAKING.value
DRILLING = DrillState.DRILLING.value

STATE_ENUMS = {'anchors': AnchoringState, 'drill': DrillState, 'scraper': ScraperState,
               'material_line': LineState, 'furnace': Phase}
