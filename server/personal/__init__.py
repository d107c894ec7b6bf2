"""What is learned from the user's own writing: phrase counts, their store, their mixing."""
