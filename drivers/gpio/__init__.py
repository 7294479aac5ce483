"""GPIO inputs, relays and PWM outputs on gpiozero."""
