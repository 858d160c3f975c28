"""Events out: emit (the outbox), dispatch, deliver; endpoints; notifications."""
