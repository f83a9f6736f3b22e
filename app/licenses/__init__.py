"""License contracts: deployed scripts, their parameters, and which version uses which."""
