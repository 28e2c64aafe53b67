"""Draw records. (The engine itself, lottery/fairdraw/, imports nothing of Django.)"""
