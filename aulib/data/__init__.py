"""Datasets: the SynthAU generator, BP4D and DISFA readers, and the one prepared format they all end in."""
