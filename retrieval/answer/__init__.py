"""Answer composers (extractive, generative) and the citation checks they share."""
