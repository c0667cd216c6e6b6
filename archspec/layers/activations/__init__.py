"""Activation layers with parameters of their own: ReLU, LeakyReLU, PReLU, ELU, Softmax."""
