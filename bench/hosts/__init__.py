"""What each target serves: our host, htagweb 1.0.0's Runner, htag's own Runner (the floor)."""
