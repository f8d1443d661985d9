"""Model side of albert-lightning: LightningModules, the LAMB optimizer and its schedule."""
