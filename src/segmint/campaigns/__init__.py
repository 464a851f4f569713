"""Campaigns: a playbook per segment, audiences with a random holdout, CSV exports and measured uplift."""

from segmint.campaigns.build import CampaignBuild, build_campaigns, holdout_draw
from segmint.campaigns.measure import Measurement, measure_campaigns, results
from segmint.campaigns.playbook import Campaign, Playbook, load_playbook

__all__ = [
    "Campaign",
    "CampaignBuild",
    "Measurement",
    "Playbook",
    "build_campaigns",
    "holdout_draw",
    "load_playbook",
    "measure_campaigns",
    "results",
]
