"""The htag 2 bench: our host and htag 2's own runner on the htag 2 counter (see __main__)."""
