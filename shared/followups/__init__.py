"""Follow-ups: sequences of nudges to leads who went quiet, sent inside the rules, exactly once."""
