"""Impact, measured honestly: days recovered by interventions, tiers, schools and messages
against similar students not (yet) served, and the nudge letters' randomized holdout."""
