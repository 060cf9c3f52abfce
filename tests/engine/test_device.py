from altair.engine.device import detect_launcher


def test_detect_launcher_from_environment():
    assert detect_launcher({}) == 'none'
    assert detect_launcher({'RANK': '0', 'WORLD_SIZE': '1', 'LOCAL_RANK': '0'}) == 'none'
    assert detect_launcher({'RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_RANK': '1'}) == 'pytorch'
    assert detect_launcher({'SLURM_PROCID': '0', 'SLURM_NTASKS': '4'}) == 'slurm'
    assert detect_launcher({'SLURM_PROCID': '0', 'SLURM_NTASKS': '1'}) == 'none'
