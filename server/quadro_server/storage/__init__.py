"""Storage backends behind one async interface (`base.Store`)."""
