from arenakit.synthetic.sample import main

main()
